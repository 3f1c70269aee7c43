"""Hand labels for build_temporal_labels.py, keyed by sentence source (see its guidelines).

Each entry: the labelled phrases in order of appearance, with their kind. Sentences of the
selection that are not listed here contain no time expression under the guidelines.
"""

LABELS: dict[str, list[tuple[str, str]]] = {
    'ljspeech:LJ001-0005': [('the fifteenth century', 'era')],
    'ljspeech:LJ001-0007': [('fourteen fifty-five', 'year')],
    'ljspeech:LJ001-0014': [('the Middle Ages', 'era')],
    'ljspeech:LJ001-0016': [('The Middle Ages', 'era')],
    'ljspeech:LJ001-0020': [('the early Middle Ages', 'era')],
    'ljspeech:LJ001-0023': [('the fifteenth century', 'era')],
    'ljspeech:LJ001-0024': [('fourteen sixty-two', 'year')],
    'ljspeech:LJ001-0027': [('the next fifteen or twenty years', 'relative')],
    'ljspeech:LJ001-0031': [('fourteen sixty-five', 'year')],
    # And though in his later years he revised his poems many times , the revisions did not alte
    'choi_dev/3-11/31.ref:17': [('in his later years', 'life_stage'), ('he was thirty', 'age')],
    # John Pezza , 69 , of 734 Hartford Avenue , Providence , complained of shoulder pains after
    'choi_dev/6-8/0.ref:49': [('69', 'age'), ('25', 'age'), ('yesterday', 'relative')],
    # Moritz does n't even have a nose guard or hip pads but he 's one of the most valuable memb
    'choi_dev/3-11/7.ref:70': [('Saturday', 'relative')],
    # Vincent G. Ierulli has been appointed temporary assistant district attorney , it was annou
    'choi_dev/3-11/6.ref:48': [('Monday', 'relative')],
    # Emotional maturity is the result of many factors , the principal ones being the experience
    'choi_dev/9-11/26.ref:99': [("the first few years of the child 's life", 'life_stage')],
    # Like the pillars of Hercules , like two ruined Titans guarding the entrance to one of Dant
    'choi_dev/3-11/2.ref:5': [('post-war', 'life_stage')],
    # But it is also true that Braque was the consistent pioneer in the use of simulated texture
    'choi_dev/3-11/15.ref:78': [('1910', 'year')],
    # `` Pittsburgh definitely is the team to beat '' , Mauch said here the other day .
    'choi_dev/3-11/22.ref:77': [('the other day', 'relative')],
    # It is the only county in the state so far this month reporting a possible shortage in GA c
    'choi_dev/3-11/2.ref:66': [('this month', 'relative')],
    # Resentment welled up yesterday among Democratic district leaders and some county leaders a
    'choi_dev/3-11/20.ref:24': [('yesterday', 'relative')],
    # Congress reacted with a series of measures modifying in various ways what it had granted i
    'choi_dev/9-11/19.ref:110': [('1875', 'year')],
    # The controversial remark was first made Sunday by Hughes at a Westfield Young Democratic C
    'choi_dev/3-11/2.ref:53': [('Sunday', 'relative')],
    # Said Leatherneck Shoup : `` A year ago I took the grips of the plow in my hands .
    'choi_dev/3-11/2.ref:21': [('A year ago', 'relative')],
    # Gus Ehlers , competitor of Mr. Houtz in this farm community , says his business since Augu
    'choi_dev/3-11/2.ref:59': [('August 1', 'date'), ('a year earlier', 'relative')],
    # A thug struck a cab driver in the face with a pistol last night after robbing him of $ 18
    'choi_dev/9-11/19.ref:44': [('last night', 'relative')],
    # The Summary Report On Desegregation Progress In Education In The Middle-South Region , 195
    'choi_dev/3-11/1.ref:45': [('1959', 'year'), ('1960', 'year')],
    # the outlook for interest rates in 1961 , the question , as always , is the prospect for ge
    'choi_dev/3-11/13.ref:77': [('1961', 'year')],
    # Hughes said Monday , `` It is the apparent intention of the Republican Party to campaign o
    'choi_dev/3-11/15.ref:7': [('Monday', 'relative')],
    # The first over-the-counter trade Wednesday afternoon at Eppler , Guerin & Turner , the man
    'choi_dev/9-11/7.ref:77': [('Wednesday afternoon', 'relative')],
    # The Dreadnought was built on designs supplied by the United States in 1959 and was launche
    'choi_dev/3-11/3.ref:3': [('1959', 'year'), ('last year', 'relative')],
    # Harvey Haddix , set back by the flu this season , will start against his former Cardinal m
    'choi_dev/9-11/19.ref:99': [('this season', 'relative'), ('tonight', 'relative')],
    # Last year , when he worked out at halfback all season , he did n't get into a single game
    'choi_dev/9-11/2.ref:11': [('Last year', 'relative')],
    # Dick Carroll and his accordion ( which we now refer to as `` Freida '' ) held over at Bahi
    'choi_dev/9-11/7.ref:101': [('Oct. 13', 'date')],
    # The market today for detergent builders is quite diverse .
    'choi_dev/3-11/7.ref:60': [('today', 'relative')],
    # Mrs. J. Edward Hackstaff and Mrs. Paul Luette are planning a luncheon next week in honor o
    'choi_dev/6-8/12.ref:23': [('next week', 'relative'), ('Tuesday', 'relative')],
    # The new promotion manager has been employed by the company since January , 1946 , as a com
    'choi_dev/3-11/15.ref:42': [('January , 1946', 'date')],
    # The economist does not look for a drastic switch in the budget during this recovery and be
    'choi_dev/3-11/19.ref:77': [('1958', 'year')],
    # Ierulli , 29 , has been practicing in Portland since November , 1959 .
    'choi_dev/3-11/6.ref:50': [('29', 'age'), ('November , 1959', 'date')],
    # A cookie with caramel filling and chocolate frosting won $ 25,000 for a Minneapolis housew
    'choi_dev/3-11/2.ref:46': [('Tuesday', 'relative')],
    # The AID has found a mantlepiece attributed to Samuel McIntyre of Salem , Mass. , an archit
    'choi_dev/3-11/17.ref:84': [('1792', 'year')],
    # --- the issue-18 targeted sample (labelled by reading, before running the detector)
    'choi_dev/3-11/3.ref:87': [('February , 1958', 'date')],
    'choi_dev/3-11/22.ref:80': [('Tonight', 'relative'), ('1960', 'year'), ('1961', 'year')],
    'choi_dev/3-11/11.ref:44': [('1945', 'year')],
    'choi_dev/3-11/6.ref:25': [('54', 'age'), ('December , 1958', 'date')],
    'choi_dev/3-11/4.ref:54': [('1956', 'year')],
    'choi_dev/3-11/11.ref:52': [('1933', 'year')],
    'choi_dev/3-11/21.ref:26': [('the past few months', 'relative')],
    'choi_dev/3-11/12.ref:35': [('1960', 'year')],
    'choi_dev/3-11/11.ref:51': [('1929', 'year')],
    'choi_dev/3-11/5.ref:27': [('the month following the elections', 'relative')],
    'choi_dev/3-11/11.ref:47': [('1910', 'year'), ('two years after', 'relative')],
    'choi_dev/3-11/4.ref:79': [('the past week', 'relative')],
    'choi_dev/3-11/6.ref:17': [('the coming season', 'relative')],
    'choi_dev/3-11/13.ref:79': [('1961', 'year')],
    'choi_dev/3-11/23.ref:38': [('While in the service', 'life_stage'),
                                ('Before entering the service', 'life_stage')],
    'choi_dev/3-11/26.ref:67': [('1919', 'year'), ('1941', 'year')],
    'choi_dev/3-11/3.ref:86': [('February , 1958', 'date')],
    'choi_dev/3-11/3.ref:85': [('July , 1957', 'date')],
    'choi_dev/3-11/47.ref:65': [('1956', 'year')],
    'choi_dev/3-11/26.ref:54': [('1957', 'year')],
    'choi_dev/3-11/7.ref:40': [('1955', 'year')],
    'choi_dev/3-11/17.ref:78': [("the early 1800 's", 'decade')],
    'choi_dev/3-11/12.ref:41': [('1959', 'year')],
    'choi_dev/3-11/4.ref:51': [('1917', 'year')],
    'choi_dev/3-5/5.ref:20': [('December', 'date')],
    'choi_dev/3-11/0.ref:6': [('coming months', 'relative'), ('1958', 'year'),
                              ('late 1959', 'year'), ('1960', 'year')],
    'choi_dev/3-11/6.ref:26': [('Aug. 31 , 1958', 'date')],
    'choi_dev/3-11/8.ref:56': [('1958', 'year')],
    'choi_dev/3-11/4.ref:52': [('1917', 'year')],
    'choi_dev/9-11/11.ref:87': [('1885', 'year')],
    'choi_dev/3-11/7.ref:38': [('1937', 'year'), ('1950', 'year')],
    'choi_dev/3-11/19.ref:32': [('1961', 'year'), ('the last two days', 'relative')],
    'choi_dev/3-11/26.ref:58': [('1940', 'year'), ('1959', 'year')],
    'choi_dev/3-11/15.ref:27': [('1946', 'year')],
    'choi_dev/3-11/19.ref:39': [('1857', 'year'), ('1860', 'year'), ('August , 1927', 'date')],
    'choi_dev/3-11/39.ref:61': [('1951', 'year')],
    'choi_dev/3-11/15.ref:75': [('September 1912', 'date')],
    'choi_dev/3-11/2.ref:63': [('1934', 'year')],
    'choi_dev/3-11/25.ref:50': [('Friday', 'relative'), ('December 2 , 1859', 'date')],
    'choi_dev/3-11/3.ref:82': [('65-year-old', 'age'), ('June 26 , 1959', 'date')],
    'choi_dev/3-11/24.ref:27': [('1946', 'year')],
    'choi_dev/3-11/3.ref:84': [('1956', 'year')],
}
