from revfield.cli import main

main()
