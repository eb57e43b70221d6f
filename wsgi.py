from confreg import create_app

app = create_app()
