import jazz

def accept_conn(info)
    return True
