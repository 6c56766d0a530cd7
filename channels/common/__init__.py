"""What every connector shares: the error responses, the turn runner, output helpers."""
