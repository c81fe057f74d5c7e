# An events.py policy for jazzd using all five callbacks (see docs/CALLBACKS.md).
# Install as /etc/jazz/events.py, or point [callbacks] python = at it.
import hmac
import ipaddress
import threading

import jazz

# accept_conn: refuse these networks before TLS
BLOCKED_NETS = [ipaddress.ip_network(n) for n in ('192.0.2.0/24', '2001:db8::/32')]

# user_key: an external user database (here a table); None means unknown user
PASSWORDS = {'bob': 'bob-secret', 'carol': 'carol-secret'}

# validate_user: who must give a one-time code (a fixed code for the example;
# use a TOTP library such as pyotp in real life)
OTP = {'carol': '424242'}

# peer_filter: devices only their owner sees
PRIVATE_DEVICES = {'pbx', 'printer'}

# callbacks run on several threads at once: guard shared state
_lock = threading.Lock()
_refused = 0


def accept_conn(info):
    global _refused
    addr = ipaddress.ip_address(info['ip'])
    if any(addr in net for net in BLOCKED_NETS):
        with _lock:
            _refused += 1
        jazz.warning('refusing %s (%d refused so far)' % (info['source'], _refused))
        return False
    return True


def user_key(req):
    return PASSWORDS.get(req['username'])


def validate_user(req):
    code = OTP.get(req['username'])
    if code is None:
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    answers = {item['code']: item['value'] for item in req['other_data']}
    if 'otp' not in answers:
        return (jazz.VALIDATE_USER_STATUS_MORE_DATA,
                [jazz.prompt('otp', 'One-time code', secret=True)])
    if hmac.compare_digest(answers['otp'], code):
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    jazz.info('wrong one-time code for %s from %s' % (req['username'], req['source']))
    return {'status': jazz.VALIDATE_USER_STATUS_REJECTED,
            'message': 'wrong one-time code'}


def peer_filter(review):
    review['peers'] = [p for p in review['peers']
                       if p['device'] not in PRIVATE_DEVICES
                       or p['username'] == review['username']]
    return review


def peer_connection(conn):
    if conn['protocol'] == 'tcp' and conn['destination_port'] == 22:
        jazz.info('no ssh from %s (%s) to %s' % (conn['origin_device'],
                                                 conn['origin'], conn['destination']))
        return False
    return True, 3600
