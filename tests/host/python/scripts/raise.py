# every callback raises
def helper(x):
    return {}[x]

def accept_conn(info):
    raise RuntimeError('accept_conn exploded')

def user_key(req):
    return helper('no-such-key')

def validate_user(req):
    1 / 0

def peer_filter(review):
    raise ValueError('peer_filter exploded')

def peer_connection(conn):
    raise SystemExit(3)    # must not end jazzd
