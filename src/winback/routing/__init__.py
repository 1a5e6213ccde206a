"""Routing: which agent gets a case, and in what order waiting cases are served."""
