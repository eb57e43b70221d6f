from config import selected_config
from confreg import create_app

app = create_app(selected_config())  # CONFREG_CONFIG=production for a real installation
