# validate_user: ask for a one-time code, then check it.
import jazz

CODE = '424242'

def validate_user(req):
    answers = {item['code']: item['value'] for item in req['other_data']}
    if 'otp' not in answers:
        return (jazz.VALIDATE_USER_STATUS_MORE_DATA,
                [jazz.prompt('otp', 'One-time code', secret=True)])
    if answers['otp'] == CODE:
        return jazz.VALIDATE_USER_STATUS_ACCEPTED
    return {'status': jazz.VALIDATE_USER_STATUS_REJECTED,
            'message': 'wrong one-time code'}
