"""The site's shared records in DNS: the lease (site lock), the state record, the view."""
