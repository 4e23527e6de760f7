print("bifocal")
