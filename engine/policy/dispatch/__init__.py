"""Problem dispatch (问题交办): the departments' evaluation figures and demo items."""
