"""Annual spot-check plans and their tasks, drafted, reviewed, approved and published."""
