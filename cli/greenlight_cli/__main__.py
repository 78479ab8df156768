from greenlight_cli.main import main

main()
