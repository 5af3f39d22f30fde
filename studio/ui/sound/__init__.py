"""The Sound room: a prompt becomes music, an effect or an ambience, shown as a waveform and a spectrogram."""
