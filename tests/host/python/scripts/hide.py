# peer_filter: nobody sees the device called "secret"; users named "ghost" are hidden.
def peer_filter(review):
    review['peers'] = [p for p in review['peers'] if p['device'] != 'secret']
    review['users'] = [u for u in review['users'] if u['username'] != 'ghost']
    return review
