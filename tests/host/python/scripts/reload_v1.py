import jazz
jazz.info('reload: version 1 loaded')

def peer_connection(conn):
    return False
