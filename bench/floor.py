FLOOR: dict = {}
