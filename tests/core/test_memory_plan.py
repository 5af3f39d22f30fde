from studio.core.models.memory_plan import GB, choose, estimate


def test_sdxl_estimate_is_in_the_known_range():
    est = estimate("sdxl", 2, 1024, 1024)
    assert 6.2 * GB < est.weights < 6.8 * GB  # 3.5 B parameters in fp16
    assert 8 * GB < est.total < 14 * GB
    assert estimate("sdxl", 4).weights == 2 * est.weights


def test_auto_takes_the_fewest_savings_that_fit():
    est = estimate("sdxl", 2, 1024, 1024)
    assert choose(est, "cuda", 80 * GB).describe().endswith("no memory savings needed")
    tight = choose(est, "cuda", 10 * GB)
    assert tight.vae_tiling and not tight.cpu_offload and tight.fits
    small = choose(est, "cuda", 7.5 * GB)
    assert small.cpu_offload and small.attention_slicing and small.fits
    hopeless = choose(est, "cuda", 1 * GB)
    assert not hopeless.fits and "may not fit" in hopeless.describe()


def test_the_users_choice_wins_and_offload_is_cuda_only():
    est = estimate("sd1", 2)
    assert choose(est, "cuda", 80 * GB, attention_slicing="on").attention_slicing
    assert not choose(est, "cuda", 1 * GB, vae_tiling="off").vae_tiling
    assert not choose(est, "mps", 1 * GB).cpu_offload
    assert not choose(est, "cpu", 1 * GB, cpu_offload="on").cpu_offload
