"""The cost review: every priced unit at two git revisions, compared and rendered."""
