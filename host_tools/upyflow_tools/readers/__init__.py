"""Model readers: each turns a file into an ir.Graph."""
