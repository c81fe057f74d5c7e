# tests/host/python-login.sh: user_key answers with raw keys (bytes), read
# from a "user enctype hex" file exported from the KDC's keytab; the client
# logs in with the password those keys were made from.
import os

KEYS = {}
with open(os.environ['JAZZ_PY_KEYS']) as f:
    for line in f:
        user, enctype, hexkey = line.split()
        KEYS[user, enctype] = bytes.fromhex(hexkey)


def user_key(req):
    return KEYS.get((req['username'], req['enctype']))    # None: unknown
