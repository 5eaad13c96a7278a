"""Beyond one process, named by the engine each uses: tf_distribute.py (the keras backend
data-parallel on tf.distribute), sync.py (numba workers synchronising sparse deltas
periodically, one backend to the driver) and ray_cluster.py (those workers as Ray actors)."""
