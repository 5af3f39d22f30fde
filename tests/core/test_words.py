from studio.core.io.words import count


def test_numbers_take_the_noun_in_the_number_they_need():
    assert count(1, "picture") == "1 picture"
    assert count(0, "picture") == "0 pictures"
    assert count(2, "story", "stories") == "2 stories"
    assert count(1, "story", "stories") == "1 story"
    assert count(12000, "token") == "12,000 tokens"
