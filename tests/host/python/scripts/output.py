# stdout/stderr of the script go to the daemon log, line by line
import sys
print('module level print')

def accept_conn(info):
    print('first line\nsecond line')
    print('no newline yet', end='')
    sys.stderr.write('an error line\n')
    return True
