"""Faces in images and video: detection (YuNet by default, Haar as an option) and 48x48 crops
(shared with the web service), tracking with steady labels, drawing, and the webcam demo built on them.

Import the module you need (`facial_emotion.faces.detect`, `.tracker`, ...): nothing heavy is
imported here, so the web service can take the detector without the demo loop.
"""
