# tests/host/python-login.sh: one policy that uses all five callbacks.
import os

import jazz

BLOCKLIST = os.environ.get('JAZZ_PY_BLOCKLIST', '/nonexistent')
PASSWORDS = {'bob': 'bob-from-python', 'carol': 'carol-from-python',
             'dave': 'dave-from-python'}
OTP = {'carol': '424242'}          # users who must give a one-time code
HIDDEN = 'hidden-pc'               # a device only its owner sees


def blocked():
    try:
        with open(BLOCKLIST) as f:
            return {line.strip() for line in f if line.strip()}
    except FileNotFoundError:
        return set()


def accept_conn(info):
    if info['ip'] in blocked():
        jazz.log(jazz.LOG_WARNING, 'policy: refusing ' + info['source'])
        return False
    return True


def user_key(req):
    return PASSWORDS.get(req['username'])      # None: unknown user


def validate_user(req):
    code = OTP.get(req['username'])
    if code is None:
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    answers = {item['code']: item['value'] for item in req['other_data']}
    if 'otp' not in answers:
        jazz.info('policy: asking %s for a one-time code (round %d)'
                  % (req['username'], req['round']))
        return (jazz.VALIDATE_USER_STATUS_MORE_DATA,
                [jazz.prompt('otp', 'One-time code', secret=True)])
    if answers['otp'] == code:
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    return {'status': jazz.VALIDATE_USER_STATUS_REJECTED,
            'message': 'wrong one-time code'}


def peer_filter(review):
    keep = [p for p in review['peers']
            if p['device'] != HIDDEN or p['username'] == review['username']]
    if len(keep) != len(review['peers']):
        jazz.info('policy: hiding %s from %s' % (HIDDEN, review['username']))
    return {'peers': keep}


def peer_connection(conn):
    if conn['protocol'] == 'tcp' and conn['destination_port'] == 22:
        jazz.info('policy: no ssh from %s to %s' % (conn['origin'], conn['destination']))
        return False
    return True, 120
