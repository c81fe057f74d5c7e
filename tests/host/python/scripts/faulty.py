# tests/host/python-login.sh: a callback misbehaves while its flag file
# exists in $JAZZ_PY_FLAGS: it raises (JAZZ_PY_FAULT=raise) or answers with
# a wrong type (JAZZ_PY_FAULT=wrongtype).
import os

import jazz

FLAGS = os.environ.get('JAZZ_PY_FLAGS', '/nonexistent')
MODE = os.environ.get('JAZZ_PY_FAULT', 'raise')
PASSWORDS = {'bob': 'bob-from-python'}


def fault(name, wrong):
    if os.path.exists(os.path.join(FLAGS, name)):
        if MODE == 'raise':
            raise RuntimeError(name + ' exploded on purpose')
        return wrong
    return None


def accept_conn(info):
    w = fault('accept_conn', 'yes')
    return True if w is None else w


def user_key(req):
    w = fault('user_key', 12345)
    return PASSWORDS.get(req['username']) if w is None else w


def validate_user(req):
    w = fault('validate_user', True)
    return jazz.VALIDATE_USER_STATUS_ACCEPTED if w is None else w


def peer_filter(review):
    w = fault('peer_filter', 42)
    return None if w is None else w


def peer_connection(conn):
    w = fault('peer_connection', 'approve')
    return True if w is None else w
