"""What a person reads: the report's table."""
