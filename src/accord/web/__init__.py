"""``accord web``: the local browser app (issue 20)."""
