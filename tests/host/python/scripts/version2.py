def accept_conn(info):
    return False
