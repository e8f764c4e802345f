"""Where the tool meets other programs: Baseten's API (online) and the `truss push` guard."""
