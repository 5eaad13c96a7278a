"""The one seed source (w2v/streams.py): every random stream derives from it."""

import numpy as np

from w2v.streams import epoch_streams, initial_tables, stream_key


def test_streams_are_reproducible_and_apart():
    a = epoch_streams(7, 0, range(4))
    np.testing.assert_array_equal(a, epoch_streams(7, 0, range(4)))
    assert a.shape == (4, 2) and a.dtype == np.uint64
    assert len(np.unique(a)) == 8  # every row and stream its own
    assert not np.isin(epoch_streams(7, 1, range(4)), a).any()  # another epoch
    assert not np.isin(epoch_streams(8, 0, range(4)), a).any()  # another seed
    # a worker's rows are the same rows of the whole team's streams
    np.testing.assert_array_equal(epoch_streams(7, 0, range(2, 4)), a[2:])


def test_row_zero_is_the_batch_paths_key():
    """One thread, the keras batches and the cuda kernel's keys all draw from row 0."""
    assert stream_key(3, 2, 0, 1) == 3 * 1_000_003 + 2 * 2 + 1


def test_initial_tables_are_word2vecs_start():
    input_vectors, output_vectors = initial_tables(50, 10, seed=1)
    assert input_vectors.dtype == np.float32 and input_vectors.shape == (50, 10)
    assert np.abs(input_vectors).max() <= 0.05 and not output_vectors.any()
    np.testing.assert_array_equal(input_vectors, initial_tables(50, 10, seed=1)[0])


def test_the_input_table_is_one_draw_taken_a_block_at_a_time():
    """initial_tables draws INIT_BLOCK rows at a time (its float64 draws never a whole
    table): the numbers of one (V, d) draw, across block boundaries."""
    from w2v.streams import INIT_BLOCK

    for rows in (1, INIT_BLOCK, 2 * INIT_BLOCK + 3):
        input_vectors, output_vectors = initial_tables(rows, 5, 11, rows + 2)
        whole = np.random.default_rng(11).uniform(-0.1, 0.1, (rows, 5)).astype(np.float32)
        np.testing.assert_array_equal(input_vectors, whole)
        assert output_vectors.shape == (rows + 2, 5) and not output_vectors.any()
