"""runtime with Dask: the cluster-scale side of runtime."""
