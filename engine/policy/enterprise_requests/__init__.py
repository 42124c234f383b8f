"""The enterprise portal's problems (诉求): an enterprise submits its own, follows them, reads the answers the
dispatcher released to it and rates them (service: submit and rate; following: what it reads; procedure: the
release and the messages to its contact)."""
