# tests/host/python-login.sh: erin's validate_user never ends (a busy loop,
# interrupted by jazz.CallbackTimeout), bob's user_key sleeps in C.
import time

import jazz


def user_key(req):
    if req['username'] == 'bob':
        time.sleep(4)
    return 'bob-from-python'


def validate_user(req):
    if req['username'] == 'erin':
        jazz.info('slow: spinning for erin')
        while True:
            pass
    return jazz.VALIDATE_USER_STATUS_ACCEPTED
