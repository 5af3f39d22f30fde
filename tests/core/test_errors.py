def test_a_wrapped_library_error_shows_one_line_and_keeps_the_rest_in_details():
    from studio.core.jobs.errors import ErrorKind, StudioError

    dump = "Error(s) in loading state_dict:\n" + "\n".join(
        f"\tsize mismatch for layer {i}" for i in range(300)
    )
    e = StudioError(ErrorKind.MODEL_INVALID, f"The ControlNet x could not be loaded: {dump}", "Traceback …")
    assert e.user_message == "The ControlNet x could not be loaded: Error(s) in loading state_dict:"
    assert "size mismatch for layer 299" in e.details and e.details.endswith("Traceback …")
    long = StudioError(ErrorKind.INTERNAL, "word " * 200)
    assert len(long.user_message) == StudioError.LONGEST and long.user_message.endswith("…")
    plain = StudioError(ErrorKind.IO, "The disk is full.", "errno 28")
    assert (plain.user_message, plain.details) == (
        "The disk is full.",
        "errno 28",
    )  # a sentence stays as it is
