"""What an article and a message are: contracts, statuses, stream names, URLs. No I/O."""
