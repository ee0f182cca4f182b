from compatd.cli import main

main()
