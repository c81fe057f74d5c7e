import jazz
jazz.info('reload: version 2 loaded')

def peer_connection(conn):
    return True
