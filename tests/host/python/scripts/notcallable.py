accept_conn = True
