class Model:
    def predict(self, model_input: dict) -> dict:
        return model_input
