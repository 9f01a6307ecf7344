"""The SpiffWorkflow engine wrapper: specs, instances, human tasks, and their history."""
