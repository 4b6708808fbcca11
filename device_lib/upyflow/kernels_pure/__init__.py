# Reference tier: plain Python kernels that run on any Python. Every faster
# tier must give byte-identical results to these.
