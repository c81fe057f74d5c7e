# user_key: an external user database (here a dict); raw keys for one user.
import jazz

PASSWORDS = {'alice': 'alice-secret', 'bob': 'bob-secret'}
RAW = {'carol': bytes(range(32))}

def user_key(req):
    if req['username'] in RAW:
        return RAW[req['username']]
    return PASSWORDS.get(req['username'])    # None: unknown user
