"""The sound wing of core: what a sound or speech job is, its recipe in the audio file's own tags, and what can be
read from the audio itself (spectrogram, spectral centroid, pitch, onsets) — numpy only, no torch."""
