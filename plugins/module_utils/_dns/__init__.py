"""DNS over RFC 2136: input, wire format, TSIG, transport, plan, update, wait, modules' engines."""
