# every callback answers with a wrong type
import jazz

def accept_conn(info):
    return 'yes'

def user_key(req):
    return 12345

def validate_user(req):
    return True    # a bool is not a status (True would read as REJECTED)

def peer_filter(review):
    return {'peers': [{'device': 'intruder', 'username': 'x', 'realm': 'X', 'vip4': '', 'vip6': ''}]}

def peer_connection(conn):
    return 'approve'
