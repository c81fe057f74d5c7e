import jazz

def user_key(user_data):
    jazz.log(jazz.LOG_INFO, "user_key received: "+str(user_data))
    return 'password'

def peer_connection(connection_data):
    jazz.log(jazz.LOG_INFO, "peer_connection received: "+str(connection_data))
    return True

def peer_filter(peer_review):
    jazz.log(jazz.LOG_INFO, "peer_filter received: "+str(peer_review))
    return None

def accept_conn(accept_info):
    jazz.log(jazz.LOG_INFO, "accept_conn received: "+str(accept_info))
    return True

def validate_user(user_data):
    jazz.log(jazz.LOG_INFO, "validate_user received: "+str(user_data))
    return jazz.VALIDATE_USER_STATUS_ACCEPTED
