# The end-to-end scenario's policy (tests/e2e/, used by tests/vm/e2e.sh and
# `make demo`): all five callbacks of docs/CALLBACKS.md in Python.
#   alice: Kerberos ticket (kinit), no extra checks
#   bob:   password login (the password comes from user_key) + one-time code
#   carol: Kerberos keytab; her device is hidden from bob and accepts no
#          direct connections
import time

import jazz

PASSWORDS = {'bob': 'bob-secret-pw'}   # user_key: the password the KDC knows
OTP = {'bob': '424242'}                # validate_user asks these for a code
HIDDEN_FROM = {'bob': {'carol-pc'}}    # peer_filter: viewer -> hidden devices
NO_CONNECTIONS_TO = {'carol-pc'}       # peer_connection: always denied
SLOW_UDP_PORT = 7777                   # peer_connection takes its time here


def accept_conn(info):
    return True


def user_key(req):
    pw = PASSWORDS.get(req['username'])
    jazz.info('e2e: user_key for %s: %s' % (req['username'], 'known' if pw else 'unknown'))
    return pw


def validate_user(req):
    code = OTP.get(req['username'])
    if code is None:
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    answers = {a['code']: a['value'] for a in req['other_data']}
    if 'otp' not in answers:
        jazz.info('e2e: asking %s for a one-time code' % req['username'])
        return (jazz.VALIDATE_USER_STATUS_MORE_DATA,
                [jazz.prompt('otp', 'One-time code', secret=True)])
    if answers['otp'] == code:
        jazz.info('e2e: one-time code of %s accepted' % req['username'])
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    return {'status': jazz.VALIDATE_USER_STATUS_REJECTED,
            'message': 'wrong one-time code'}


def peer_filter(review):
    hide = HIDDEN_FROM.get(review['username'], set())
    keep = [p for p in review['peers'] if p['device'] not in hide]
    for p in review['peers']:
        if p['device'] in hide:
            jazz.info('e2e: hiding %s from %s' % (p['device'], review['username']))
    return {'peers': keep}


def peer_connection(conn):
    what = '%s %s %s -> %s %s' % (conn['protocol'], conn['origin_device'], conn['origin'],
                                  conn['destination_device'], conn['destination'])
    if conn['destination_device'] in NO_CONNECTIONS_TO:
        jazz.info('e2e: deny ' + what)
        return False
    if conn['protocol'] == 'udp' and conn['destination_port'] == SLOW_UDP_PORT:
        jazz.info('e2e: slow approval ' + what)
        time.sleep(6)
    jazz.info('e2e: approve ' + what)
    return True
