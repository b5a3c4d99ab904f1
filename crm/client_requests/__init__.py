"""Client requests: questions and files asked of a record's contact through a link, answered in a plain form."""
