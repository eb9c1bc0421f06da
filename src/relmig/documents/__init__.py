"""Document building: mapping rules applied to source rows, producing complete documents."""
