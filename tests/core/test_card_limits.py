"""A model card's limits: the sections on limitations, bias, risks, out-of-scope use and misuse, with what is under
them, and nothing else (fenced code is not a heading)."""

from studio.core.models.card_limits import limitations

SD_CARD = """# Stable Diffusion v1-5

## Uses

### Direct Use
Research.

### Misuse, Malicious Use, and Out-of-Scope Use
The model should not be used to intentionally create or disseminate images that create hostile environments.

#### Out-of-Scope Use
Factual representations of people or events.

## Limitations and Bias

### Limitations
- The model does not achieve perfect photorealism
- The model cannot render legible text

### Bias
Trained mostly on English captions.

## Training

```
# Limitations: not a heading inside a fence
```
Data: LAION-5B.
"""


def test_the_limit_sections_are_kept_whole_and_the_rest_left_out():
    text = limitations(SD_CARD)
    assert text.startswith("### Misuse, Malicious Use, and Out-of-Scope Use")
    for kept in ("hostile environments", "Factual representations", "cannot render legible text",
                 "English captions"):  # fmt: skip
        assert kept in text
    for left in ("Research.", "LAION-5B", "Direct Use", "not a heading inside a fence"):
        assert left not in text


def test_a_card_without_limits_says_nothing():
    assert limitations("# A model\n\nIt draws shapes.\n\n## Training\nOn shapes.\n") == ""
    assert limitations("") == ""
