"""Using a trained model without TensorFlow: the exported ONNX model and its runtime
(onnx_model.py), the conversion from Keras with its parity check (export.py, pipeline only),
the `EmotionRecognizer` API (recognizer.py) and the `facial-emotion` command (command.py).

Nothing is imported here: `from facial_emotion import EmotionRecognizer` loads only what it needs.
"""
